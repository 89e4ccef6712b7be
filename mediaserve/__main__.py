"""Allow ``python -m mediaserve``."""

from mediaserve.cli import main

if __name__ == "__main__":
    main()
