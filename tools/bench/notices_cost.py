"""CPU per record of the notices agent's decision and storage (``channels.notices.tell_many``),
in batches of 1, 3 and 8, over the offer and lifecycle records of a bench database.

    python -m tools.bench.notices_cost var/bench/throughput-<run>.db [--records 3000]

The database (a ``careline bench throughput`` SQLite file) is copied first; the records are the
first ``--records`` outbox rows of ``dispatch.offers.v1`` and ``care.lifecycle.v1``, in commit
order. Prints one line per batch size: records that may call for a notice, and milliseconds of
this process's CPU per such record.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a bench SQLite file (copied, not changed)")
    parser.add_argument("--records", type=int, default=3000)
    args = parser.parse_args()
    from channels import notices
    from channels.context import ChannelContext
    from config.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "notices.db"
        shutil.copy(args.database, db)
        con = sqlite3.connect(db)
        rows = [
            json.loads(v)
            for (v,) in con.execute(
                "select value from outbox where topic in ('dispatch.offers.v1', 'care.lifecycle.v1') "
                "order by seq limit ?",
                (args.records,),
            )
        ]
        con.close()
        ctx = ChannelContext.from_settings(Settings(database_url=f"sqlite:///{db}"))
        wanted = [r for r in rows if notices.wanted(r)]
        if not wanted:
            raise SystemExit(f"{args.database}: no offer or lifecycle record calls for a notice")
        for size in (1, 3, 8):
            started = time.process_time()
            for i in range(0, len(wanted), size):
                notices.tell_many(ctx, wanted[i : i + size])
            cpu = time.process_time() - started
            print(
                f"batches of {size}: {len(wanted)} of {len(rows)} records may call for a notice, "
                f"{1000 * cpu / len(wanted):.3f} ms CPU per record"
            )


if __name__ == "__main__":
    main()
