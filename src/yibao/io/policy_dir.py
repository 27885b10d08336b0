"""Load a policy folder into a compiled :class:`PolicySnapshot`.

Layout: any folder that holds a ``region.yaml`` is a region; the other ``*.yaml`` files
beside it are its parameter files, and files under its ``catalog/`` folder (``.csv``,
``.xlsx``) are its catalogues. Folders nest however the author likes; the hierarchy
comes from the 医保区划 codes. Error messages name files relative to the folder.
"""

from __future__ import annotations

from pathlib import Path

from yibao.errors import PolicyFileError
from yibao.io.catalog_files import SUFFIXES, read_catalog
from yibao.io.yaml_exact import load_yaml
from yibao.policy.catalog import CatalogItem
from yibao.policy.document import RegionLayer, parse_document, parse_region_header
from yibao.policy.overlay import apply_overlay
from yibao.policy.regions import RegionTree
from yibao.policy.snapshot import PolicySnapshot
from yibao.policy.validate import validate


def _read(path: Path, label: str) -> object:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PolicyFileError(label, "", f"无法读取：{e.strerror}") from None
    except Exception as e:  # yaml.YAMLError and friends: report where the parser stopped
        mark = getattr(e, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else ""
        raise PolicyFileError(label, where, f"YAML 格式错误：{getattr(e, 'problem', e)}") from None


def load_policy_dir(root: Path | list[Path], overlays: list[Path] | None = None, check: bool = True) -> PolicySnapshot:
    """Parse, compile and (by default) validate every region under ``root`` (one folder or several)."""
    roots = root if isinstance(root, list) else [root]
    layers: dict[str, RegionLayer] = {}
    declared: dict[str, tuple[str, bool]] = {}
    catalogs: dict[str, list[CatalogItem]] = {}
    for one in roots:
        if not one.is_dir():
            raise PolicyFileError(str(one), "", "政策目录不存在")
        _load_tree(one, layers, declared, catalogs)
    if not layers:
        raise PolicyFileError(str(roots[0]), "", "目录中没有任何 region.yaml")
    for layer in list(layers.values()):
        for county, county_name in layer.counties.items():
            if county not in declared:
                declared[county] = (county_name, False)
    snapshot = PolicySnapshot(RegionTree.build(declared), layers, catalogs)
    if check:
        validate(snapshot)
    for overlay in overlays or []:
        label = str(overlay)
        snapshot = apply_overlay(snapshot, _read(overlay, label), label)
    return snapshot


def _load_tree(
    root: Path,
    layers: dict[str, RegionLayer],
    declared: dict[str, tuple[str, bool]],
    catalogs: dict[str, list[CatalogItem]],
) -> None:
    for header in sorted(root.rglob("region.yaml")):
        folder = header.parent
        label = str(header.relative_to(root))
        code, name, pooling, counties = parse_region_header(_read(header, label), label)
        if code in layers:
            raise PolicyFileError(label, "code", f"区划 {code} 重复定义")
        layer = RegionLayer(code=code, name=name, pooling=pooling, counties=counties)
        for doc in sorted(folder.glob("*.yaml")):
            if doc.name == "region.yaml":
                continue
            doc_label = str(doc.relative_to(root))
            parse_document(_read(doc, doc_label), doc_label, layer)
        layers[code] = layer
        declared[code] = (name, pooling)
        catalog_dir = folder / "catalog"
        if catalog_dir.is_dir():
            for f in sorted(catalog_dir.iterdir()):
                if f.suffix.lower() in SUFFIXES:
                    catalogs.setdefault(code, []).extend(read_catalog(f, code, str(f.relative_to(root))))
