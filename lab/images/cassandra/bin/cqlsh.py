"""Runs cqlsh from the unpacked PyPI wheel on Debian's python3-cassandra driver."""
import sys

import cassandra.cqltypes

if not hasattr(cassandra.cqltypes, "VectorType"):
    # bullseye's and bookworm's driver (3.24, 3.25) predate the vector type (3.29); cqlsh
    # only uses the name as a COPY FROM converter key. A plain class leaves the driver's
    # type registry untouched.
    cassandra.cqltypes.VectorType = type(
        "VectorType", (), {"typename": "org.apache.cassandra.db.marshal.VectorType"})

from cqlshlib.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "cqlsh"
    sys.exit(main())
