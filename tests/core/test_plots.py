"""core.plots: curves over seeds with a band, written as PNG."""

from milestones.core.plots import plot_curves


def test_plot_curves_writes_a_png(tmp_path):
    xs = [0, 1, 2, 3]
    path = plot_curves({"plain-20": [(xs, [0.9, 0.5, 0.4, 0.3]), (xs, [0.8, 0.6, 0.4, 0.35])],
                        "ResNet-20": [(xs, [0.9, 0.4, 0.3, 0.2])]},
                       tmp_path / "sub" / "curves.png", xlabel="iteration", ylabel="error",
                       title="demo", styles={"plain-20": {"linestyle": "--"}}, logy=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000
