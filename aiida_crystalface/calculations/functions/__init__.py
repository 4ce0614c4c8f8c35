"""Batched calcfunctions, one per module (AiiDA stores the source file of each run).

Each takes a dynamic namespace of inputs and returns one output per input under the same name; a bad item is
reported (exit status 410, a ``failures`` Dict and a message naming it) while every other item gets its output.
"""
