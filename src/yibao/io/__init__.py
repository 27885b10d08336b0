"""Adapters that touch the file system: policy folders, catalogue files, JSON documents.

The domain packages (``policy``, ``engine``) take values and return values; this
package reads and writes the files they are made from.
"""
