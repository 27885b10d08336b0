"""Dated, region-scoped policy: parameters, exceptions, catalogues, the national envelope.

Pure: nothing here reads files, databases or the network (see :mod:`yibao.io`).
"""
