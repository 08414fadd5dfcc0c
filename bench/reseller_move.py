"""Moving a reseller with a large subtree: the service against the one raw UPDATE it runs.

bin/with-postgres .venv/bin/python bench/reseller_move.py [--companies 10000]

The tree: root -> North -> `Branch` -> 100 companies -> the rest spread below them;
`Branch` moves between North and South and back. The service adds the tree lock, the fresh
reads, the cycle, scope and depth checks, the parent update and the audit row.
"""

import argparse

from common import fixtures, report, setup_django, timer


def build(fx, companies: int):
    """`Branch` under North with `companies` companies in all below and including it."""
    from resellers.models import Reseller

    branch = Reseller.objects.filter(name="Bench branch").first()
    if branch and Reseller.objects.subtree_of(branch).count() == companies:
        return branch
    if branch:
        Reseller.objects.subtree_of(branch).exclude(pk=branch.pk).delete()
        Reseller.objects.filter(pk=branch.pk).delete()
    branch = Reseller.objects.create(name="Bench branch", currency="USD", parent=fx["north"])
    level = Reseller.objects.bulk_create(
        Reseller(name=f"L1 {i}", currency="USD", parent=branch) for i in range(100)
    )
    rest = companies - 1 - len(level)
    below = Reseller.objects.bulk_create(
        Reseller(name=f"L2 {i}", currency="USD", parent=level[i % len(level)]) for i in range(rest)
    )
    for reseller in level:
        reseller.path = f"{branch.path}{reseller.pk}/"
    parents = {r.pk: r for r in level}
    for reseller in below:
        reseller.path = f"{parents[reseller.parent_id].path}{reseller.pk}/"
    Reseller.objects.bulk_update([*level, *below], ["path"], batch_size=5000)
    return branch


def run(companies: int, rounds: int = 5) -> None:
    from django.db import connection, transaction

    from resellers.models import Reseller
    from resellers.services import reseller_move

    fx = fixtures()
    branch = build(fx, companies)
    best_service = best_raw = float("inf")
    for _ in range(rounds):
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE resellers_reseller")
        results = {}
        target = fx["south"] if branch.parent_id == fx["north"].pk else fx["north"]
        with timer(results, "service"):
            moved = reseller_move(actor=fx["operator"], reseller=branch, new_parent=target)
        assert moved == companies
        branch.refresh_from_db()
        back = fx["north"] if target == fx["south"] else fx["south"]
        old, new = branch.path, f"{back.path}{branch.pk}/"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE resellers_reseller")
        with timer(results, "raw"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE resellers_reseller SET path = %s || substring(path from %s)"
                " WHERE path LIKE %s",
                [new, len(old) + 1, old + "%"],
            )
            assert cursor.rowcount == companies
            cursor.execute(
                "UPDATE resellers_reseller SET parent_id = %s WHERE id = %s", [back.pk, branch.pk]
            )
        branch.refresh_from_db()
        best_service = min(best_service, results["service"])
        best_raw = min(best_raw, results["raw"])
    assert all(r.path.startswith(branch.path) for r in Reseller.objects.subtree_of(branch)[:50])
    report(
        f"Reseller move, {companies:,} companies in the moved subtree (best of {rounds})",
        [
            ("reseller_move (lock, checks, paths, parent, audit)", f"{best_service * 1e3:.1f} ms"),
            ("raw UPDATE of the paths + parent", f"{best_raw * 1e3:.1f} ms"),
            ("ratio", f"{best_service / best_raw:.2f}"),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=10_000)
    args = parser.parse_args()
    setup_django()
    run(args.companies)
