"""The shared toolbox every milestone calls (never a base class). Import the submodule you need
(``from milestones.core.run import Run``); nothing here runs at import.

- run: the run lifecycle a training loop calls (folder, checkpoints, resume, stop, summary, CLI)
- config, runtime, checkpoint, metrics: configs and presets; device, precision and DDP; atomic
  verified checkpoints; metrics.jsonl and the progress bar
- data, datasets, shapes: data roots and errors; CIFAR-10, MNIST, Fashion-MNIST, image folders,
  the table of known local copies; the built-in shapes images
- text, language, hub: sentence pairs, BPE, token batches, BLEU; the built-in language pair;
  Hugging Face datasets offline
- jobs, report, bench, plots: many runs of a reproduction, results tables, interleaved timing
- site: the annotated static site of every milestone (``python -m milestones.site``)
"""
