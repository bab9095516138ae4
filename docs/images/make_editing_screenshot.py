"""Make docs/images/editing-diagnostics.png: Neovim with editors/vim and `fileflow lsp`
attached, showing the diagnostics of a Flowfile with an error and a lint warning.

Neovim runs in a detached tmux session of a fixed size (its own tmux server, killed at the
end); when the diagnostics have arrived, the pane is captured with its colours
(`tmux capture-pane -e`), the ANSI text is turned into HTML here, and headless Chromium
(tests/chromium.py) renders that page to the PNG.

    python docs/images/make_editing_screenshot.py [OUT.png]

Needs nvim (0.7 or later; Debian: apt-get install neovim), tmux, chromium, and fileflow
with pygls importable by this Python (PYTHONPATH=... for a checkout that is not installed).
"""
from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLUMNS, ROWS = 132, 30
SOCKET = f"fileflow-screenshot-{os.getpid()}"  # a tmux server of our own

# Two files, one window each: the Flowfile loads and gets lint warnings; a file being
# written has an error (an error stops the lint checks of its file, as in `fileflow lint`).
FILES = {
    "Flowfile": '''\
SAMPLES = ["alpha", "beta", "gamma"]

rule all:
    input: expand("results/{sample}.count", sample=SAMPLES)

rule count:
    input: "data/{sample}.txt"
    output: "results/{sample}.count"
    shell: "wc -w < {input} > {output}"
''',
    "plot.flow": '''\
# A rule being written: a mistyped wildcard.
rule plot:
    input: "results/{sample}.count"
    output: "plots/{sample}.svg"
    log: "logs/plot/{sample}.log"
    shell: "plot --title {wildcards.smaple} {input} > {output} 2> {log}"
''',
}

# Neovim 0.7's API (vim.lsp.start arrived in 0.8); docs/editing.md shows the newer forms.
INIT_LUA = '''\
vim.opt.runtimepath:append({runtime})
vim.cmd("filetype plugin indent on")
vim.cmd("syntax on")
vim.opt.background = "dark"
vim.cmd("highlight SignColumn ctermbg=NONE")
vim.cmd("highlight NormalFloat ctermfg=252 ctermbg=237")
vim.cmd("highlight FloatBorder ctermfg=244 ctermbg=237")
-- F5: to the mistyped name, and its diagnostic in a float (a mapping leaves no command line).
vim.keymap.set("n", "<F5>", function()
  vim.fn.search("smaple")
  vim.defer_fn(vim.diagnostic.open_float, 200)  -- after CursorMoved, which closes floats
end)
vim.opt.number = true
vim.opt.signcolumn = "yes"
vim.opt.laststatus = 2
vim.opt.shortmess:append("I")
vim.opt.swapfile = false
vim.diagnostic.config({{ virtual_text = {{ spacing = 2 }}, signs = true, underline = true,
                        severity_sort = true, float = {{ border = "rounded" }} }})
local client  -- one server for every Flowfile buffer
vim.api.nvim_create_autocmd("FileType", {{
  pattern = "flowfile",
  callback = function()
    client = client or vim.lsp.start_client({{ name = "fileflow", cmd = {cmd},
                                              root_dir = vim.fn.getcwd() }})
    vim.lsp.buf_attach_client(0, client)
  end,
}})
'''


def tmux(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, text=True,
                          capture_output=True, **kwargs)


def capture() -> str:
    return tmux("capture-pane", "-p", "-e", "-N", "-t", "shot").stdout


def wait_for(predicate, what: str, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = capture()
        if predicate(re.sub(r"\x1b\[[0-9;:]*m", "", screen)):
            return screen
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; the screen was:\n{screen}")
        time.sleep(0.5)


# ---------------------------------------------------------------- ANSI (SGR) -> HTML

def _palette() -> list[str]:
    base = ["#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
            "#666666", "#d54e53", "#b9ca4a", "#e7c547", "#7aa6da", "#c397d8", "#70c0b1", "#eaeaea"]
    steps = [0, 95, 135, 175, 215, 255]
    cube = [f"#{steps[r]:02x}{steps[g]:02x}{steps[b]:02x}"
            for r in range(6) for g in range(6) for b in range(6)]
    grey = [f"#{8 + 10 * i:02x}{8 + 10 * i:02x}{8 + 10 * i:02x}" for i in range(24)]
    return base + cube + grey


PALETTE = _palette()
FOREGROUND, BACKGROUND = "#c5c8c6", "#1d1f21"


def _colour(params: list[int], i: int) -> tuple[str | None, int]:
    """The colour of an extended SGR (38/48/58 ; 5;n or 2;r;g;b) starting at params[i]."""
    if i + 1 < len(params) and params[i + 1] == 5 and i + 2 < len(params):
        return PALETTE[params[i + 2] % 256], i + 3
    if i + 1 < len(params) and params[i + 1] == 2 and i + 4 < len(params):
        r, g, b = params[i + 2:i + 5]
        return f"#{r:02x}{g:02x}{b:02x}", i + 5
    return None, i + 1


def ansi_to_html(text: str) -> str:
    state = {"fg": None, "bg": None, "bold": False, "italic": False, "underline": False,
             "reverse": False}
    out: list[str] = []

    def span(chunk: str) -> None:
        if not chunk:
            return
        fg, bg = state["fg"] or FOREGROUND, state["bg"] or BACKGROUND
        if state["reverse"]:
            fg, bg = bg, fg
        style = [f"color:{fg}"]
        if bg != BACKGROUND:
            style.append(f"background:{bg}")
        if state["bold"]:
            style.append("font-weight:bold")
        if state["italic"]:
            style.append("font-style:italic")
        if state["underline"]:
            style.append("text-decoration:underline")
        out.append(f'<span style="{";".join(style)}">{html.escape(chunk)}</span>')

    for line in text.rstrip("\n").split("\n"):
        for part in re.split(r"(\x1b\[[0-9;:]*m)", line):
            if not part.startswith("\x1b["):
                span(part)
                continue
            params = [int(p.split(":")[0] or 0) for p in part[2:-1].split(";")] or [0]
            underline_style = [p for p in part[2:-1].split(";") if p.startswith("4:")]
            i = 0
            while i < len(params):
                code = params[i]
                if code == 0:
                    state.update(fg=None, bg=None, bold=False, italic=False, underline=False,
                                 reverse=False)
                elif code == 1:
                    state["bold"] = True
                elif code == 3:
                    state["italic"] = True
                elif code == 4:
                    state["underline"] = not (underline_style and underline_style[0] == "4:0")
                elif code == 7:
                    state["reverse"] = True
                elif code == 22:
                    state["bold"] = False
                elif code == 23:
                    state["italic"] = False
                elif code == 24:
                    state["underline"] = False
                elif code == 27:
                    state["reverse"] = False
                elif 30 <= code <= 37:
                    state["fg"] = PALETTE[code - 30]
                elif 90 <= code <= 97:
                    state["fg"] = PALETTE[code - 90 + 8]
                elif 40 <= code <= 47:
                    state["bg"] = PALETTE[code - 40]
                elif 100 <= code <= 107:
                    state["bg"] = PALETTE[code - 100 + 8]
                elif code == 39:
                    state["fg"] = None
                elif code == 49:
                    state["bg"] = None
                elif code in (38, 48, 58):
                    colour, i = _colour(params, i)
                    if code != 58:
                        state["fg" if code == 38 else "bg"] = colour
                    continue
                i += 1
        out.append("\n")
    return "".join(out)


def page(body: str) -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><style>
html, body {{ margin: 0; background: #111; overflow: hidden; }}
.window {{ display: inline-block; margin: 0; border-radius: 8px; overflow: hidden;
          background: {BACKGROUND}; box-shadow: 0 0 0 1px #333; }}
.title {{ font: 13px sans-serif; color: #999; background: #2b2b2b; padding: 6px 12px; }}
pre {{ margin: 0; padding: 8px 10px; color: {FOREGROUND};
       font: 14px/18px "DejaVu Sans Mono", monospace; }}
</style></head><body><div class="window"><div class="title">nvim -o Flowfile plot.flow &mdash; with fileflow lsp</div>
<pre>{body}</pre></div></body></html>
"""


def render(html_path: Path, png_path: Path, profile: Path) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from chromium import Chromium  # the DevTools-over-a-pipe driver the tests use

    with Chromium(str(profile)) as browser:
        shot = browser.open(html_path.as_uri(), width=1400, height=1000)
        width, height = shot.evaluate(
            "(() => { const r = document.querySelector('.window').getBoundingClientRect();"
            " return [Math.ceil(r.width), Math.ceil(r.height)]; })()")
        shot.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        png_path.write_bytes(shot.screenshot())


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "images" / "editing-diagnostics.png"
    with tempfile.TemporaryDirectory(prefix="fileflow-screenshot-") as tmp:
        work = Path(tmp)
        for name, text in FILES.items():
            (work / name).write_text(text)
        server_cmd = [sys.executable, "-m", "fileflow", "lsp"]
        (work / "init.lua").write_text(INIT_LUA.format(
            runtime=f'"{REPO / "editors" / "vim"}"',
            cmd="{" + ", ".join(f'"{part}"' for part in server_cmd) + "}"))
        env_prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in {
            "TERM": "xterm-256color", "HOME": str(work), "XDG_CONFIG_HOME": str(work),
            "XDG_DATA_HOME": str(work), "XDG_STATE_HOME": str(work),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        }.items())
        command = f"cd {shlex.quote(str(work))} && env {env_prefix} nvim -u init.lua -i NONE -o " + " ".join(FILES)
        tmux("-f", "/dev/null", "new-session", "-d", "-s", "shot", "-x", str(COLUMNS), "-y", str(ROWS),
             command)
        try:
            tmux("set-option", "-t", "shot", "status", "off")
            wait_for(lambda s: "has no log" in s and "has no constraint" in s, "the lint warnings")
            wait_for(lambda s: "smaple" in s.split("plot.flow")[0].split("Flowfile")[-1],
                     "the error in plot.flow")
            # Open the error's message in a float, as a reader would with the cursor on it.
            tmux("send-keys", "-t", "shot", "Escape", "C-w", "j")
            tmux("send-keys", "-t", "shot", "F5")
            time.sleep(2)
            screen = capture()
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        (work / "screen.ansi").write_text(screen)
        html_path = work / "screen.html"
        html_path.write_text(page(ansi_to_html(screen)))
        render(html_path, out, work / "chromium-profile")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
