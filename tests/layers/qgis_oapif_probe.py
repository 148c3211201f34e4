"""Run by Debian's python3 (which has QGIS's bindings), not by pytest: what QGIS reads from /ogc.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_oapif_probe.py BASE_URL COLLECTION [...]

Prints one JSON document: per collection, whether the OAPIF layer is valid, its CRS, feature
count, field names, the attributes of the features in a small box, and QGIS's error if any.
"""

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsRectangle,
    QgsVectorLayer,
)


def probe(base: str, collection: str, box: list[float]) -> dict:
    uri = f"url='{base}/ogc' typename='{collection}' pagingEnabled='true' pageSize='100'"
    layer = QgsVectorLayer(uri, collection, "OAPIF")
    out = {"valid": layer.isValid()}
    if not layer.isValid():
        out["error"] = layer.dataProvider().error().summary() if layer.dataProvider() else ""
        return out
    req = QgsFeatureRequest().setFilterRect(QgsRectangle(*box))
    feats = list(layer.getFeatures(req))
    out.update(
        crs=layer.crs().authid(),
        count=layer.featureCount(),
        fields=[f.name() for f in layer.fields()],
        in_box=[{k: (v if isinstance(v, (int, float, str)) or v is None else str(v))
                 for k, v in zip(layer.fields().names(), f.attributes(), strict=True)}
                for f in feats],
        geometry_types=sorted({f.geometry().wkbType() for f in feats}),
        all_features=sum(1 for _ in layer.getFeatures()),
    )
    return out


def main() -> None:
    base, box = sys.argv[1], [float(v) for v in sys.argv[2].split(",")]
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps({c: probe(base, c, box) for c in sys.argv[3:]}, ensure_ascii=False))
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()
