"""Writes an SPDX 2.3 JSON document describing the packages of a Python environment.

spdx-tools (pinned in scripts/peers/sbom/install) has no command that inventories an
environment: its `pyspdxtools` only validates and converts documents. So this script lists the
environment's distributions with importlib.metadata and builds the document with spdx-tools' own
model and JSON writer, which validates it against SPDX 2.3 before writing. The result is a
document a real SPDX library produced, describing the same environment as cyclonedx-py's SBOM.

usage: make_spdx.py VENV OUT.json
"""

import sys
import sysconfig
from datetime import datetime
from importlib import metadata
from pathlib import Path

from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.writer.write_anything import write_file

# CPE vendor:product for the packages NVD names (as NVD spells them), so the SPDX document also
# exercises the cpe23Type path.
CPES = {
    "requests": "python:requests",
    "urllib3": "python:urllib3",
    "jinja2": "palletsprojects:jinja",
}


def site_packages(venv: Path) -> list[str]:
    lib = venv / "lib"
    return [str(p) for p in lib.glob("python3*/site-packages")]


def main() -> None:
    venv, out = Path(sys.argv[1]), Path(sys.argv[2])
    dists = sorted(
        metadata.distributions(path=site_packages(venv)),
        key=lambda d: d.metadata["Name"].lower(),
    )
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name="synthetic-infusion-gateway",
        document_namespace="https://example.invalid/spdx/synthetic-infusion-gateway-1.4.2",
        creators=[Actor(ActorType.TOOL, "medsurface-make_spdx"), Actor(ActorType.ORGANIZATION, "Example Medical Devices")],
        created=datetime(2026, 1, 1, 0, 0, 0),
    )
    device = Package(
        spdx_id="SPDXRef-device",
        name="Synthetic Infusion Gateway",
        download_location=SpdxNoAssertion(),
        version="1.4.2",
        supplier=Actor(ActorType.ORGANIZATION, "Example Medical Devices"),
        files_analyzed=False,
    )
    packages = [device]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-device")]
    for i, dist in enumerate(dists):
        name = dist.metadata["Name"]
        version = dist.version
        refs = [
            ExternalPackageRef(
                ExternalPackageRefCategory.PACKAGE_MANAGER,
                "purl",
                f"pkg:pypi/{name.lower().replace('_', '-')}@{version}",
            )
        ]
        cpe = CPES.get(name.lower())
        if cpe:
            refs.append(
                ExternalPackageRef(
                    ExternalPackageRefCategory.SECURITY,
                    "cpe23Type",
                    f"cpe:2.3:a:{cpe}:{version}:*:*:*:*:*:*:*",
                )
            )
        author = dist.metadata.get("Author")
        supplier = Actor(ActorType.PERSON, author) if author else SpdxNoAssertion()
        spdx_id = f"SPDXRef-pkg-{i}"
        packages.append(
            Package(
                spdx_id=spdx_id,
                name=name,
                download_location=SpdxNoAssertion(),
                version=version,
                supplier=supplier,
                files_analyzed=False,
                external_references=refs,
            )
        )
        relationships.append(Relationship("SPDXRef-device", RelationshipType.CONTAINS, spdx_id))
    doc = Document(creation_info=creation, packages=packages, relationships=relationships)
    write_file(doc, str(out))


if __name__ == "__main__":
    main()
