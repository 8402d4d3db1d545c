"""The disk-and-parse floor for scoring: polars reads a CSV and writes it, no work between.

Usage: python floor.py IN.csv OUT.csv (every column read as text, as mqlcal reads a CSV)."""
import sys

import polars as pl

pl.read_csv(sys.argv[1], infer_schema_length=0).write_csv(sys.argv[2])
