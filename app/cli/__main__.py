"""`python -m app.cli …`: the same commands as `nurture …`."""
from app.cli import main

main()
