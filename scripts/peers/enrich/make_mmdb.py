#!/usr/bin/env python3
"""Writes two small MaxMind DB files for the enrichment tests, with synthetic values only:

  OUTDIR/city.mmdb  database_type "GeoLite2-City": country, registered_country, city names
  OUTDIR/asn.mmdb   database_type "GeoLite2-ASN": autonomous_system_number / _organization

Networks are the documentation ranges (RFC 5737, RFC 3849): 203.0.113.0/24, 198.51.100.0/24,
192.0.2.0/24 and 2001:db8::/32; AS numbers come from the documentation range (RFC 5398,
64496-64511). The record layout follows MaxMind's GeoIP2/GeoLite2 schema, so a reader of the
real databases reads these alike. Both are IPv6 databases holding IPv4 in the ::/96 subtree,
as MaxMind's are.

Usage: make_mmdb.py OUTDIR     (prints the two paths)
"""

import os
import sys

from mmdb_writer import MMDBWriter, MmdbU32
from netaddr import IPSet


def city(iso, country_en, city_en, geoname):
    return {
        "city": {"geoname_id": MmdbU32(geoname), "names": {"en": city_en}},
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "country": {"iso_code": iso, "names": {"en": country_en}},
        "registered_country": {"iso_code": iso, "names": {"en": country_en}},
    }


# (network, City record, ASN record). Organisations are synthetic, worded so that the
# organisation-type rules have something to decide (a university, a hospital, a cloud, an ISP).
NETWORKS = [
    (
        "203.0.113.0/24",
        city("DE", "Germany", "Examplestadt", 1000001),
        {"autonomous_system_number": MmdbU32(64496), "autonomous_system_organization": "Example University"},
    ),
    (
        "198.51.100.0/24",
        city("FR", "France", "Villexemple", 1000002),
        {"autonomous_system_number": MmdbU32(64497), "autonomous_system_organization": "Exemple Telecom SA"},
    ),
    (
        "192.0.2.0/24",
        # A Country-level record without a city: the enricher must not invent one.
        {
            "country": {"iso_code": "JP", "names": {"en": "Japan"}},
            "registered_country": {"iso_code": "JP", "names": {"en": "Japan"}},
        },
        {"autonomous_system_number": MmdbU32(64498), "autonomous_system_organization": "Example Cloud Hosting Ltd"},
    ),
    (
        "2001:db8::/32",
        city("NL", "Netherlands", "Voorbeeldstad", 1000003),
        {"autonomous_system_number": MmdbU32(64499), "autonomous_system_organization": "Voorbeeld Ziekenhuis"},
    ),
]


def write(path, database_type, column):
    w = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description="medsurface synthetic test database (documentation ranges only)",
    )
    for net, city_rec, asn_rec in NETWORKS:
        w.insert_network(IPSet([net]), city_rec if column == "city" else asn_rec)
    w.to_db_file(path)


def main():
    if len(sys.argv) != 2:
        print("usage: make_mmdb.py OUTDIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    city_path = os.path.join(out, "city.mmdb")
    asn_path = os.path.join(out, "asn.mmdb")
    write(city_path, "GeoLite2-City", "city")
    write(asn_path, "GeoLite2-ASN", "asn")
    print(city_path)
    print(asn_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
