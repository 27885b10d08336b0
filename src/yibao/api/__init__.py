"""The designated-institution interface (定点医药机构接口): envelope, gateway authentication, answers.

Nothing here imports a web framework; the server adapts these functions to HTTP.
"""
