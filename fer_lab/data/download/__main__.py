"""`python -m fer_lab.data.download [--dest FOLDER]` (`make data`)."""

from fer_lab.data.download import main

main()
