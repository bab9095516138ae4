"""End to end: software per rule. `conda:` environments created with py-rattler from a
local channel the tests build (real package archives, indexed by rattler), and
`envmodules:` loaded by Lmod from modulefiles the tests write. No network."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time

import pytest
from buildkit import Project
from condachannel import env_file, make_channel
from conftest import need_service

LMOD_INIT = "/usr/share/lmod/lmod/init/bash"


def _rattler():
    try:
        import rattler
    except ImportError:
        rattler = None
    need_service(rattler is not None, "py-rattler (pip install 'fileflow[conda]')")
    return rattler


@pytest.fixture(scope="session")
def channel(tmp_path_factory) -> str:
    """A local channel: ffgreet 1.0 and 1.1, and fftool 2.0, which depends on ffgreet."""
    _rattler()
    return make_channel(tmp_path_factory.mktemp("channel"))


def conda_project(tmp_path, channel, *specs, shell="fftool > {output}; echo $CONDA_PREFIX >> {output}"):
    p = Project(tmp_path)
    p.write("envs/tool.yaml", env_file(channel, *specs or ("fftool",)))
    p.flowfile(f"""
        rule all:
            output: "out.txt"
            conda: "envs/tool.yaml"
            shell: "{shell}"
        """)
    return p


def environments(p: Project, root: str = ".fileflow/conda") -> list[str]:
    folder = p.path(root)
    return sorted(e for e in os.listdir(folder) if "." not in e) if folder.is_dir() else []


def test_jobs_run_in_the_environment_the_build_creates(tmp_path, channel):
    p = conda_project(tmp_path, channel)
    r = p.build("--use-conda")
    assert r.code == 0, r
    [env] = environments(p)
    prefix = str(p.path(f".fileflow/conda/{env}"))
    assert "created conda environment" in r.out
    # the package's command and its dependency's, from the environment's bin, CONDA_PREFIX set
    assert p.read("out.txt").split("\n")[:3] == ["greet 1.1", "tool 2.0", prefix]
    again = p.build("--use-conda")
    assert again.code == 0 and again.ran == [] and "created" not in again.out


def test_a_plain_command_finds_the_environments_program_first(tmp_path, channel):
    """A one-program command starts without bash, looked up on the job's own PATH: the
    environment's program, not one of the same name on the build's PATH."""
    p = Project(tmp_path)
    p.write("envs/tool.yaml", env_file(channel, "ffgreet"))
    p.write("system/ffgreet", "#!/bin/sh\necho system greet\n", mode=0o755)
    p.flowfile("""
        rule all:
            input: "in_env.txt", "plain.txt"
        rule in_env:
            output: "in_env.txt"
            conda: "envs/tool.yaml"
            shell: "ffgreet > {output}"
        rule plain:
            output: "plain.txt"
            shell: "ffgreet > {output}"
        """)
    r = p.run("--use-conda", env=p.env(PATH=f"{p.path('system')}{os.pathsep}{os.environ['PATH']}"))
    assert r.code == 0, r
    assert (p.read("in_env.txt"), p.read("plain.txt")) == ("greet 1.1\n", "system greet\n")


def test_a_script_runs_in_the_environment_too(tmp_path, channel):
    p = Project(tmp_path)
    p.write("envs/tool.yaml", env_file(channel, "ffgreet 1.0"))
    p.write("scripts/run.sh", 'ffgreet > "$FILEFLOW_OUTPUT"\n')
    p.flowfile("""
        rule all:
            output: "out.txt"
            conda: "envs/tool.yaml"
            script: "scripts/run.sh"
        """)
    r = p.build("--use-conda")
    assert r.code == 0, r
    assert p.read("out.txt") == "greet 1.0\n"


def test_a_python_script_runs_with_the_environments_python(tmp_path, channel):
    p = Project(tmp_path)
    p.write("envs/py.yaml", env_file(channel, "ffpython"))
    p.write("scripts/run.py", "import os\nfrom fileflow.script import job\n"
            "with open(job.output[0], 'w') as fh:\n"
            "    fh.write(os.environ.get('FFPYTHON_WRAPPED', 'not the environment') + '\\n')\n"
            "    fh.write(os.environ['PYTHONPATH'].split(os.pathsep)[0] + '\\n')\n")
    p.flowfile("""
        rule all:
            output: "out.txt"
            conda: "envs/py.yaml"
            script: "scripts/run.py"
        """)
    r = p.build("--use-conda")
    assert r.code == 0, r
    import fileflow
    here = os.path.dirname(os.path.dirname(os.path.abspath(fileflow.__file__)))
    assert p.read("out.txt") == f"1\n{here}\n"    # and fileflow.script importable from it


def test_a_changed_environment_file_makes_a_new_environment_and_reruns(tmp_path, channel):
    p = conda_project(tmp_path, channel, "ffgreet 1.0", shell="ffgreet > {output}")
    assert p.build("--use-conda").code == 0
    assert p.read("out.txt") == "greet 1.0\n"
    p.write("envs/tool.yaml", env_file(channel, "ffgreet 1.1"))
    r = p.build("--use-conda")
    assert r.code == 0 and r.ran == ["all"], r
    assert p.read("out.txt") == "greet 1.1\n"
    assert len(environments(p)) == 2          # the first one stays for who still uses it
    assert p.build("--use-conda").ran == []


def test_parallel_builds_create_a_shared_environment_once(tmp_path, channel):
    """Two builds at once, one --conda-prefix: the hook, run once per creation, counts them
    (guarantees.md: A conda environment is created once and never used half-made)."""
    shared = tmp_path / "shared-envs"
    projects = [conda_project(tmp_path / name, channel) for name in ("one", "two")]
    count = tmp_path / "created"
    env = projects[0].env(FILEFLOW_CONDA_CREATE_HOOK=f"echo x >> {count}; sleep 1")
    procs = [p.popen("--use-conda", "--conda-prefix", str(shared), env=env) for p in projects]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
    assert count.read_text() == "x\n"
    for p in projects:
        assert p.read("out.txt").startswith("greet 1.1\ntool 2.0\n")
    assert len([e for e in os.listdir(shared) if "." not in e]) == 1


def test_a_creation_killed_half_way_is_never_taken_as_complete(tmp_path, channel):
    """(guarantees.md: A conda environment is created once and never used half-made)"""
    p = conda_project(tmp_path, channel)
    started = tmp_path / "creating"
    proc = p.popen("--use-conda", start_new_session=True,
                   env=p.env(FILEFLOW_CONDA_CREATE_HOOK=f"touch {started}; sleep 60"))
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert environments(p) == []                      # only a temporary folder is left
    # a folder in the environment's place without the completion marker: made half-way
    from fileflow.envs.conda import env_prefix, read_env_file
    prefix = env_prefix(read_env_file(str(p.path("envs/tool.yaml"))), str(p.path(".fileflow/conda")))
    os.makedirs(os.path.join(prefix, "bin"))
    with open(os.path.join(prefix, "bin", "fftool"), "w") as fh:
        fh.write("#!/bin/sh\necho half-made\n")
    os.chmod(os.path.join(prefix, "bin", "fftool"), 0o755)
    r = p.build("--use-conda")
    assert r.code == 0, r
    assert p.read("out.txt").startswith("greet 1.1\ntool 2.0\n")
    assert [e for e in os.listdir(p.path(".fileflow/conda")) if ".tmp-" in e] == []


def test_conda_without_use_conda_says_once_that_environments_are_ignored(tmp_path, channel):
    p = Project(tmp_path)
    p.write("envs/tool.yaml", env_file(channel, "fftool"))
    p.flowfile("""
        rule all:
            input: "a.txt", "b.txt"
        rule make:
            output: "{x}.txt"
            conda: "envs/tool.yaml"
            shell: "echo plain > {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert r.err.count("ignored without --use-conda") == 1
    assert not p.path(".fileflow/conda").exists()


def test_a_prefix_path_is_used_as_it_is(tmp_path, channel):
    made = conda_project(tmp_path / "made", channel)
    assert made.build("--use-conda").code == 0
    [env] = environments(made)
    prefix = made.path(f".fileflow/conda/{env}")
    p = Project(tmp_path / "user")
    p.flowfile(f"""
        rule all:
            output: "out.txt"
            conda: "{prefix}"
            shell: "fftool > {{output}}"
        """)
    r = p.build("--use-conda")
    assert r.code == 0, r
    assert p.read("out.txt") == "greet 1.1\ntool 2.0\n"


def test_a_named_environment_and_the_profile_key(tmp_path, channel):
    made = conda_project(tmp_path / "made", channel)
    assert made.build("--use-conda").code == 0
    [env] = environments(made)
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "tools").symlink_to(made.path(f".fileflow/conda/{env}"))
    p = Project(tmp_path / "user")
    p.write("profiles/conda/config.yaml", "use-conda: true\n")
    p.flowfile("""
        rule all:
            output: "out.txt"
            conda: "tools"
            shell: "fftool > {output}"
        """)
    r = p.run("--profile", "conda", env=p.env(CONDA_ENVS_PATH=str(envs)))
    assert r.code == 0, r
    assert p.read("out.txt") == "greet 1.1\ntool 2.0\n"
    missing = p.run("--profile", "conda", "-F", env=p.env(CONDA_ENVS_PATH=str(tmp_path)))
    assert missing.code == 2 and "no conda environment named 'tools'" in missing.err, missing


def test_a_pip_list_needs_uv_and_python_in_the_environment(tmp_path, channel):
    p = conda_project(tmp_path, channel, "fftool", "{pip: [requests]}")
    plain = os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"])
    if shutil.which("uv", path=plain) is None:
        r = p.run("--use-conda", env=p.env(PATH=plain))
        assert r.code == 2 and "needs 'uv' on PATH" in r.err, r
    p.write("fakebin/uv", "#!/bin/sh\necho uv ran >&2\nexit 1\n", mode=0o755)
    r = p.run("--use-conda", env=p.env(PATH=f"{p.path('fakebin')}{os.pathsep}{plain}"))
    assert r.code == 2 and "has a 'pip:' list but no Python" in r.err, r
    assert environments(p) == [] and not p.exists("out.txt")


@pytest.mark.parametrize("specs, channel_url, words", [
    (("nosuchpkg >=1",), None, ["cannot solve conda environment envs/tool.yaml", "nosuchpkg >=1"]),
    (("fftool",), "file:///nonexistent/channel",
     ["cannot reach channel(s) file:///nonexistent/channel", "fileflow conda create"]),
])
def test_environment_errors_name_the_file(tmp_path, channel, specs, channel_url, words):
    p = conda_project(tmp_path, channel_url or channel, *specs)
    r = p.build("--use-conda")
    assert r.code == 2, r
    for word in words:
        assert word in r.err
    assert "Traceback" not in r.err and not p.exists("out.txt")
    assert environments(p) == []


def test_use_conda_without_the_extra_names_the_package_unless_the_environment_exists(tmp_path, channel):
    p = conda_project(tmp_path, channel)
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "rattler").mkdir()
    (hide / "rattler" / "__init__.py").write_text("raise ImportError('no rattler here')\n")
    path = os.pathsep.join([str(hide), *[x for x in sys.path if x]])
    r = p.run("--use-conda", env=p.env(PYTHONPATH=path))
    assert r.code == 2, r
    assert "pip install 'fileflow[conda]'" in r.err and "py-rattler" in r.err
    # an environment that exists is used without py-rattler (a node without the extra)
    assert p.build("conda", "create").code == 0
    r = p.run("--use-conda", env=p.env(PYTHONPATH=path))
    assert r.code == 0, r
    assert p.read("out.txt").startswith("greet 1.1\ntool 2.0\n")


def test_fileflow_conda_create_list_and_clean(tmp_path, channel):
    p = conda_project(tmp_path, channel)
    listed = p.build("conda", "list")
    assert listed.code == 0 and "not created" in listed.out, listed
    created = p.build("conda", "create")
    assert created.code == 0, created
    [env] = environments(p)
    assert p.build("conda", "list").out.strip().endswith("\tcreated")
    r = p.build("--use-conda")                    # the build finds it made
    assert r.code == 0 and "created conda environment" not in r.out, r
    p.write("envs/tool.yaml", env_file(channel, "ffgreet"))   # the old one is now unused
    assert p.build("conda", "clean", "-n").code == 0
    assert environments(p) == [env]
    cleaned = p.build("conda", "clean")
    assert cleaned.code == 0 and env in cleaned.out, cleaned
    assert environments(p) == []


# ---------------------------------------------------------------- environment modules

def _lmod() -> None:
    need_service(os.path.exists(LMOD_INIT), "Lmod (apt-get install lmod)")


def module_project(tmp_path, modules: str) -> Project:
    p = Project(tmp_path)
    tools = tmp_path / "tools"
    p.write("tools/hello", "#!/bin/sh\necho hello from a module\n", mode=0o755)
    p.write("modulefiles/hello/1.0.lua",
            f'setenv("HELLO_VERSION", "1.0")\nprepend_path("PATH", "{tools}")\n')
    p.flowfile(f"""
        rule all:
            output: "out.txt"
            envmodules: {modules}
            shell: "hello > {{output}}; echo $HELLO_VERSION >> {{output}}"
        """)
    return p


def test_envmodules_are_loaded_before_the_command(tmp_path):
    _lmod()
    p = module_project(tmp_path, '"hello/1.0"')
    env = p.env(MODULEPATH=str(tmp_path / "modulefiles"))
    r = p.run("--use-envmodules", env=env)
    assert r.code == 0, r
    assert p.read("out.txt") == "hello from a module\n1.0\n"
    # the module list is part of the signature: another list reruns the job
    p.flowfile(p.read("Flowfile").replace('"hello/1.0"', '"hello"'))
    again = p.run("--use-envmodules", env=env)
    assert again.code == 0 and again.ran == ["all"], again


def test_a_missing_module_fails_the_job_with_the_module_commands_message(tmp_path):
    _lmod()
    p = module_project(tmp_path, '"nosuch/2.0"')
    r = p.run("--use-envmodules", env=p.env(MODULEPATH=str(tmp_path / "modulefiles")))
    assert r.code == 1, r
    assert "nosuch/2.0" in r.err and "unknown" in r.err
    assert not p.exists("out.txt")


def test_envmodules_without_the_flag_leave_the_command_alone(tmp_path):
    p = module_project(tmp_path, '"nosuch/2.0"')
    r = p.build()
    assert r.code == 1, r                   # no module loaded: `hello` is not on PATH
    assert "hello: command not found" in r.err and "nosuch" not in r.err



# ---------------------------------------------------------------- on a real Slurm

def test_a_slurm_job_runs_in_its_environment_with_its_modules(tmp_path, channel, slurm):
    _lmod()
    p = module_project(tmp_path, '"hello/1.0"')
    p.write("envs/tool.yaml", env_file(channel, "fftool"))
    p.flowfile(p.read("Flowfile").replace(
        "    shell:", '    conda: "envs/tool.yaml"\n    shell:').replace(
        "hello > {output};", "hello > {output}; fftool >> {output}; echo $CONDA_PREFIX >> {output};"))
    r = p.run("--cluster", "slurm", "--use-conda", "--use-envmodules",
              env=p.env(MODULEPATH=str(tmp_path / "modulefiles")))
    assert r.code == 0, r
    assert [j["executor"] for j in r.jobs] == ["slurm"], r.jobs
    [env] = environments(p)
    assert p.read("out.txt").split("\n") == [
        "hello from a module", "greet 1.1", "tool 2.0", str(p.path(f".fileflow/conda/{env}")),
        "1.0", ""]
