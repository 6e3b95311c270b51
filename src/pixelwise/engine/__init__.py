"""The engine: training, evaluation and prediction shared by the Python API and the command line."""
