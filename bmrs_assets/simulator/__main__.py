"""``python -m bmrs_assets.simulator``: the bundled Elexon API simulator on loopback."""

from bmrs_assets.simulator.server import main

if __name__ == "__main__":
    main()
