"""The shared toolbox: config, runtime, checkpoint, metrics, data, plots. Import the submodule
you need (``from milestones.core import runtime``); nothing here runs at import."""
