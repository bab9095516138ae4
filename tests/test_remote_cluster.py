"""Remote files on a real Slurm: `--remote-staging job` makes each cluster job
download its remote inputs and upload its remote outputs itself, on its node, through
`python -m fileflow.remote.job_stager`; the head records the tokens the job reports. Needs Slurm
(.ci/slurm-up.sh) and moto's S3 server (tests/s3server.py), which the jobs reach on loopback
through the environment sbatch passes on (AWS_ENDPOINT_URL_S3 and the test credentials).
"""
from __future__ import annotations

import os

from buildkit import Project
from conftest import need_service
from s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

FLOW = """
localrules: all, length

rule all:
    input: "s3://{bucket}/out/a.txt", "local/a.len"

rule upper:
    input: seq="s3://{bucket}/raw/{{s}}.txt", ref="s3://{bucket}/ref/common.txt"
    output: "s3://{bucket}/out/{{s}}.txt"
    shell: "cat {{input.ref}} > /dev/null && tr a-z A-Z < {{input.seq}} > {{output}}"

rule length:
    input: "s3://{bucket}/out/{{s}}.txt"
    output: "local/{{s}}.len"
    shell: "wc -c < {{input}} > {{output}}"

rule publish:
    input: "s3://{bucket}/raw/{{s}}.txt"
    output: "s3://{bucket}-missing/pub/{{s}}.txt"
    shell: "cp {{input}} {{output}}"
"""


def object_requests(bucket, method: str) -> list[str]:
    prefix = f"/{bucket.name}/"
    return sorted(r.path[len(prefix):] for r in bucket.server.requests
                  if r.method == method and r.path.startswith(prefix) and r.path != prefix)


def test_slurm_jobs_stage_their_own_remote_files(slurm, tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    bucket = s3_bucket.name
    s3_bucket.put("raw/a.txt", b"alpha\n")
    s3_bucket.put("ref/common.txt", b"shared\n")
    p = Project(tmp_path / "p")
    p.flowfile(FLOW.format(bucket=bucket))
    s3_bucket.server.clear()

    first = p.run("build", "--cluster", "slurm", "--remote-staging", "job", "-j", "2",
                  timeout=300)
    assert first.code == 0, first
    jobs = {j["name"]: j for j in first.jobs}
    assert set(jobs) == {"upper[s=a]", "length[s=a]"}
    assert jobs["upper[s=a]"]["executor"] == "slurm"
    # Each input downloaded once (by the Slurm job), the output uploaded once; the local
    # job length read the copy the Slurm job left, by the token the job reported.
    assert object_requests(s3_bucket, "GET") == ["raw/a.txt", "ref/common.txt"]
    assert object_requests(s3_bucket, "PUT") == ["out/a.txt"]
    assert s3_bucket.fs.cat_file(f"{bucket}/out/a.txt") == b"ALPHA\n"
    assert p.read("local/a.len").strip() == "6"
    # The Slurm job moved the files: its log says so, from its node.
    upper = jobs["upper[s=a]"]
    log = p.read(upper["log_path"].replace("%j", upper["external_id"]))
    assert "fileflow: job upper[s=a]: downloaded 2 remote inputs" in log, log
    assert "fileflow: job upper[s=a]: uploaded 1 remote output" in log, log
    recorded = p.recorded()
    token = recorded[f"s3://{bucket}/out/a.txt"]
    assert token.complete and token.algorithm == "remote-token" and token.digest.startswith("etag:")
    assert recorded["local/a.len"].input_digests[f"s3://{bucket}/out/a.txt"] == token.digest
    assert not p.exists(".fileflow/remote/s3")  # the jobs' staged copies are gone too

    again = p.run("build", "--cluster", "slurm", "--remote-staging", "job", timeout=300)
    assert again.code == 0 and "nothing to do" in again.out, again

    # An upload that fails in the job fails the job, with the URL, and records nothing done.
    failed = p.run("build", "--cluster", "slurm", "--remote-staging", "job",
                   f"s3://{bucket}-missing/pub/a.txt", timeout=300)
    assert failed.code == 1, failed
    url = f"s3://{bucket}-missing/pub/a.txt"
    assert f"job publish[s=a] failed: cannot upload output {url}" in failed.err, failed.err
    assert not p.recorded()[url].complete


def test_job_staging_without_a_cluster_is_refused(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            shell: "echo a > {output}"
        """)
    result = p.build("build", "--remote-staging", "job", log=False)
    assert result.code == 2, result
    assert "--remote-staging job needs --cluster" in result.err
    p.write("profiles/nodes/config.yaml", "remote-staging: job\n")  # from a profile too
    result = p.build("build", "--profile", "nodes", log=False)
    assert result.code == 2 and "--remote-staging job needs --cluster" in result.err, result
    assert not p.exists("a.txt")
    assert p.build("build", "--profile", "nodes", "--remote-staging", "head").code == 0


def test_drmaa_jobs_stage_their_own_remote_files(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    """The same through DRMAA on Grid Engine: a grid engine job does not get the submitting
    environment unless asked (-V), and the store's endpoint and credentials are there."""
    from test_executor_drmaa import sge_env

    env = sge_env()
    need_service(env is not None, "Son of Grid Engine with DRMAA (start it with .ci/sge-up.sh)")
    bucket = s3_bucket.name
    s3_bucket.put("raw/b.txt", b"beta\n")
    s3_bucket.put("ref/common.txt", b"shared\n")
    p = Project(tmp_path / "p")
    p.flowfile(FLOW.format(bucket=bucket))
    s3_bucket.server.clear()
    env = {**env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    built = p.run("build", "--cluster", "drmaa", "--drmaa-native=-V", "--remote-staging", "job",
                  f"s3://{bucket}/out/b.txt", env=env, timeout=300)
    assert built.code == 0, built
    (job,) = built.jobs
    assert job["executor"] == "drmaa" and job["state"] == "done", job
    assert object_requests(s3_bucket, "GET") == ["raw/b.txt", "ref/common.txt"]
    assert object_requests(s3_bucket, "PUT") == ["out/b.txt"]
    log = p.read(job["log_path"].replace("%j", job["external_id"]))
    assert "fileflow: job upper[s=b]: uploaded 1 remote output" in log, log
    token = p.recorded()[f"s3://{bucket}/out/b.txt"]
    assert token.complete and token.digest.startswith("etag:")
    assert s3_bucket.fs.cat_file(f"{bucket}/out/b.txt") == b"BETA\n"


def test_slurm_head_staging_is_the_default(slurm, tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    """Without the option this process moves the files; the Slurm job sees local copies."""
    bucket = s3_bucket.name
    s3_bucket.put("raw/a.txt", b"alpha\n")
    s3_bucket.put("ref/common.txt", b"shared\n")
    p = Project(tmp_path / "p")
    p.flowfile(FLOW.format(bucket=bucket))
    s3_bucket.server.clear()
    built = p.run("build", "--cluster", "slurm", f"s3://{bucket}/out/a.txt", timeout=300)
    assert built.code == 0, built
    (job,) = built.jobs
    assert job["executor"] == "slurm" and job["state"] == "done", job
    assert "remote files: 2 downloaded, 1 uploaded" in built.out
    log = p.read(job["log_path"].replace("%j", job["external_id"]))
    assert "fileflow: job" not in log, log  # no staging in the job
    assert object_requests(s3_bucket, "GET") == ["raw/a.txt", "ref/common.txt"]
    assert object_requests(s3_bucket, "PUT") == ["out/a.txt"]
    assert p.recorded()[f"s3://{bucket}/out/a.txt"].complete
