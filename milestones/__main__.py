"""`python -m milestones`: the registry, with each milestone's commands and status."""

from milestones import REGISTRY, __version__


def main() -> None:
    print(f"milestones {__version__}: landmark papers 2012-2020, from scratch in PyTorch\n")
    for m in REGISTRY:
        status = "implemented" if m.implemented else "planned"
        print(f"{m.name:<12} {m.year:<10} {status:<12} {m.title}")
        print(f"{'':<12} {m.authors} ({m.arxiv})")
        if m.implemented:
            train, reproduce = m.commands
            print(f"{'':<12} train:     {train} --preset quick")
            print(f"{'':<12} reproduce: {reproduce}")
        print()
    print("Every train command takes --help; presets: smoke (seconds), quick (CPU minutes), paper.")


if __name__ == "__main__":
    main()
