"""Parsers of the crystalface CalcJobs."""
