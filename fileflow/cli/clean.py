"""`fileflow clean`: delete the outputs of rules that fileflow made, under the build lock,
forget them in the run log, and remove the folders those deletions emptied. Layer 5.

An output is deleted only when the run log says a job of fileflow made it (a complete
record with its job) and it is unchanged since (its size, mtime and ctime as recorded, or
else its content hash). Everything else (files fileflow did not make, or that changed since,
protected() outputs, paths outside the working directory) is kept and listed first, with
the reason; `--force` deletes those too. Never sources, and never the working directory or
a folder above it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from fileflow.cli.steps import BuildOptions, load_graph, open_store, print_line, read_recorded
from fileflow.errors import EXIT_OK, FileflowError
from fileflow.state import FileState, RecordedTarget, vouches

__all__ = ["clean", "sort_outputs", "emptied_folders", "Sorted"]

NOT_MADE = "not made by fileflow"
CHANGED = "changed since fileflow made it"
UNFINISHED = "its job started and did not finish"
PROTECTED = "protected()"
OUTSIDE = "outside the working directory"
SHOWN_KEPT = 50  # kept files listed one by one; the rest counted


class Sorted(NamedTuple):
    """Existing outputs sorted: what `clean` deletes, and what it keeps and why."""

    remove: list[str]
    kept: list[tuple[str, str]]          # (path, reason): deleted only with --force
    never: list[str]                     # the working directory or a folder above it


def clean(options: BuildOptions, rules: Sequence[str], dry_run: bool,
          force: bool = False, orphans: bool = False) -> int:
    """Delete the outputs of the selected rules' jobs that fileflow made and that are
    unchanged since (with `force`, every existing output), forget them, and remove the
    folders that became empty by it. With `orphans`, the outputs fileflow made that no job
    of the workflow makes any more, instead of the rules' outputs."""
    if orphans and rules:
        raise FileflowError("clean --orphans takes no rule names: it removes what no rule "
                            "makes any more")
    store = open_store()
    workflow, graph = load_graph(options, store)
    unknown = [r for r in rules if r not in workflow.by_name]
    if unknown:
        raise FileflowError(f"clean: no rule named {unknown[0]!r}")
    outputs = _orphans(options, graph) if orphans else _outputs_of(workflow, graph, rules)
    if dry_run:
        runlog, recorded = read_recorded(options.db_url, write=False)
        if runlog is not None:
            runlog.close()
        _report(sort_outputs(outputs, recorded, store, force), force, dry=True)
        return EXIT_OK
    from fileflow.run.locks import BuildLock

    lock = BuildLock(".", list(outputs))  # never pull files from under a build making them
    lock.acquire(options.lock_timeout, getattr(options, "quiet", False))
    try:
        runlog, recorded = read_recorded(options.db_url, write=False)  # after any wait
        if runlog is not None:
            runlog.close()
        _delete(sort_outputs(outputs, recorded, store, force), options, force)
    finally:
        lock.release()
    return EXIT_OK


def _outputs_of(workflow, graph, rules: Sequence[str]) -> dict[str, bool]:
    """The existing local outputs of the rules' jobs (all rules when none is named):
    path -> protected."""
    chosen = set(rules) or set(workflow.by_name)
    outputs: dict[str, bool] = {}
    for job in graph.jobs:
        if job.rule.name in chosen:
            protected = set(job.flagged("protected")) if job.values.flags else set()
            for path in job.outputs:
                if "://" not in path and os.path.lexists(path):
                    outputs[path] = path in protected
    return outputs


def _orphans(options: BuildOptions, graph) -> dict[str, bool]:
    """The orphaned outputs (views/summary.py), none protected: no rule says so any more."""
    from fileflow.views.summary import orphaned_outputs

    if graph.waiting:
        raise FileflowError(f"clean --orphans: the workflow's jobs are not all known until "
                            f"checkpoint jobs have run ({graph.waiting[0].name} waits for "
                            "one); build first")
    runlog, recorded = read_recorded(options.db_url, write=False)
    if runlog is not None:
        runlog.close()
    return dict.fromkeys(orphaned_outputs(graph, recorded), False)


def _delete(found: Sorted, options: BuildOptions, force: bool) -> None:
    from fileflow.fs import remove_path

    remove = _report(found, force, dry=False)
    if not remove:
        return
    folders = emptied_folders(remove)
    failed: list[str] = []
    for path in remove:
        try:
            remove_path(path)
        except OSError as exc:
            failed.append(f"{path!r}: {exc.strerror}")
            continue
        print_line("removed " + path)
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            continue  # something appeared in it meanwhile: it stays
        print_line("removed folder " + folder + os.sep)
    runlog, _ = read_recorded(options.db_url, write=True)
    try:
        runlog.forget(p for p in remove if not os.path.lexists(p))
    finally:
        runlog.close()
    if failed:
        raise FileflowError(f"clean: cannot remove {len(failed)} output(s): " + "; ".join(failed[:5]))


def _report(found: Sorted, force: bool, dry: bool) -> list[str]:
    """Print what is kept (first) and, for a dry run, what would go; the paths to delete."""
    remove = sorted(found.remove + [p for p, _ in found.kept]) if force else found.remove
    for path in found.never:
        print_line(f"{'would keep' if dry else 'kept'} {path}: the working directory or a "
                   "folder above it is never deleted")
    if found.kept and not force:
        n = len(found.kept)
        print_line(f"{'would keep' if dry else 'kept'} {n} file{'s' if n != 1 else ''} "
                   "fileflow did not make, changed since, protected or outside the working "
                   "directory (use --force to delete them):")
        for path, why in found.kept[:SHOWN_KEPT]:
            print_line(f"    {path}: {why}")
        if n > SHOWN_KEPT:
            print_line(f"    ... and {n - SHOWN_KEPT} more")
    if dry:
        for path in remove:
            print_line("would remove " + path)
        for folder in emptied_folders(remove):
            print_line("would remove folder " + folder + os.sep)
    if not remove:
        print_line("nothing to clean")
    return remove


def sort_outputs(outputs: Mapping[str, bool], recorded: Mapping[str, RecordedTarget],
                 store, force: bool) -> Sorted:
    """Sort existing outputs (path -> protected) by what the run log says of them: made by
    a job of fileflow and unchanged since (stat as recorded, or else the same content
    hash), or kept with a reason."""
    remove: list[str] = []
    kept: list[tuple[str, str]] = []
    never: list[str] = []
    here = os.path.abspath(".")
    to_check: dict[str, FileState] = {}
    for path, protected in outputs.items():
        full = os.path.abspath(path)
        if full == here or here.startswith(full.rstrip(os.sep) + os.sep):
            never.append(path)
        elif not _inside(full, here):
            kept.append((path, OUTSIDE))
        elif protected:
            kept.append((path, PROTECTED))
        elif force:
            remove.append(path)  # nothing to compare: it goes whatever its record says
        else:
            rec = recorded.get(path)
            if rec is None or rec.job_id is None:
                kept.append((path, NOT_MADE))
            elif not rec.complete:
                kept.append((path, UNFINISHED))
            else:
                to_check[path] = FileState(path, False)
    if to_check:
        states = store.stat_many(to_check)
        granularity = store.granularity_ns  # a record taken in the tick of a change: hashed
        unsure = {p: st for p, st in states.items()
                  if not vouches(recorded[p], st, granularity)}
        hashed = store.with_digests({p: st for p, st in unsure.items() if st.exists}, {})
        for path in to_check:
            if path not in unsure or (path in hashed and hashed[path].digest
                                      == recorded[path].digest):
                remove.append(path)
            else:
                kept.append((path, CHANGED))
    return Sorted(sorted(remove), sorted(kept), sorted(never))


def _inside(full: str, here: str) -> bool:
    """Whether an absolute, normalised path lies strictly inside the folder `here` (by its
    name: a folder inside that is a symbolic link to elsewhere still counts as inside)."""
    return full.startswith(here.rstrip(os.sep) + os.sep)


def emptied_folders(removed: Iterable[str]) -> list[str]:
    """The folders inside the working directory that deleting `removed` leaves empty,
    deepest first: those holding nothing but removed paths and folders emptied so. Never
    the working directory itself, a folder above it, or a symbolic link."""
    here = os.path.abspath(".")
    gone = {os.path.abspath(p) for p in removed}
    candidates: set[str] = set()
    for full in gone:
        folder = os.path.dirname(full)
        while _inside(folder, here) and folder not in candidates:
            candidates.add(folder)
            folder = os.path.dirname(folder)
    emptied: list[str] = []
    for folder in sorted(candidates, key=lambda f: f.count(os.sep), reverse=True):
        if os.path.islink(folder) or not os.path.isdir(folder):
            continue
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        if all(os.path.join(folder, e) in gone for e in entries):
            gone.add(folder)
            emptied.append(folder)
    return [os.path.relpath(f, here) for f in emptied]
