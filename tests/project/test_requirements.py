"""src/requirements.txt as pip reads it: every line pip accepts passes, in a normal form that
says everything by itself (included files inlined) and keys the environment.

pip's own parser is the referee: each line is first checked to be accepted by the pip installed
here, so these tests follow pip rather than our idea of it.
"""

from __future__ import annotations

import hashlib

import pytest

from jupyter_hub_api.artifacts.environments import environment_key, uv_requirements
from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.project.requirements import (
    normalise_requirements,
    project_requirements,
    requirement_names,
)

PIP_LINES = [
    ("git+https://github.com/openai/CLIP.git", "git+https://github.com/openai/CLIP.git"),
    (
        "CLIP @ git+https://github.com/openai/CLIP.git@a1b2c3",
        "clip @ git+https://github.com/openai/CLIP.git@a1b2c3",
    ),
    ("Pillow>=9 ; python_version >= '3.8'", 'pillow>=9 ; python_version >= "3.8"'),
    (
        "git+https://host.invalid/r.git ; sys_platform == 'linux'",
        'git+https://host.invalid/r.git ; sys_platform == "linux"',
    ),
    (
        "numpy==1.26.4 --hash=sha256:ab --hash sha256:cd",
        "numpy==1.26.4 --hash=sha256:ab --hash=sha256:cd",
    ),
    ("numpy==1.26.4 \\\n    --hash=sha256:ab", "numpy==1.26.4 --hash=sha256:ab"),
    (
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        "--extra-index-url https://download.pytorch.org/whl/cpu",
    ),
    ("--extra-index-url=https://x.invalid/simple", "--extra-index-url https://x.invalid/simple"),
    ("--extra-index https://x.invalid/simple", "--extra-index-url https://x.invalid/simple"),
    ("--index-url https://x.invalid/simple", "--index-url https://x.invalid/simple"),
    ("-i https://x.invalid/simple", "--index-url https://x.invalid/simple"),
    ("-f https://x.invalid/wheels", "--find-links https://x.invalid/wheels"),
    ("--find-links=/opt/wheels", "--find-links /opt/wheels"),
    ("--no-index", "--no-index"),
    ("--pre", "--pre"),
    ("--trusted-host x.invalid", "--trusted-host x.invalid"),
    ("--prefer-binary", "--prefer-binary"),
    ("--only-binary :all:", "--only-binary :all:"),
    ("--no-binary numpy", "--no-binary numpy"),
    ("--require-hashes", "--require-hashes"),
    ("--use-feature truststore", "--use-feature truststore"),
    ("torch  # the CPU build comes from the extra index", "torch"),
    ("# only a comment", ""),
    ("Scikit_Learn[Alldeps] >= 1.4, <2", "scikit-learn[alldeps]<2,>=1.4"),
    (
        "pkg @ https://x.invalid/pkg-1.0-py3-none-any.whl",
        "pkg @ https://x.invalid/pkg-1.0-py3-none-any.whl",
    ),
    ("https://x.invalid/pkg-1.0-py3-none-any.whl", "https://x.invalid/pkg-1.0-py3-none-any.whl"),
    ("six --config-settings key=value", "six --config-settings=key=value"),
]


def pip_accepts(tmp_path, text=None, path=None):
    """The pip installed here parses the file (or ``text``) as a requirements file."""
    req_file = pytest.importorskip("pip._internal.req.req_file")
    session = pytest.importorskip("pip._internal.network.session")
    if path is None:
        path = tmp_path / "pip-check.txt"
        path.write_text(text)
    return list(req_file.parse_requirements(str(path), session=session.PipSession()))


@pytest.mark.parametrize("line, normal", PIP_LINES)
def test_every_line_pip_accepts_passes_in_a_normal_form(tmp_path, line, normal):
    pip_accepts(tmp_path, line + "\n")  # raises if pip itself refuses the line
    text = normalise_requirements(line + "\n")
    assert text == (normal + "\n" if normal else "")
    assert normalise_requirements(text) == text  # the platform normalises it again


def test_a_hosted_projects_requirements_file_keeps_every_line(tmp_path):
    text = (
        "# CLIP zero-shot classifier\n"
        "--extra-index-url https://download.pytorch.org/whl/cpu\n"
        "torch==2.3.1 ; platform_machine == 'x86_64' \\\n"
        "    --hash=sha256:0123\n"
        "ftfy\nregex\ntqdm\n"
        "git+https://github.com/openai/CLIP.git\n"
    )
    pip_accepts(tmp_path, text)
    assert normalise_requirements(text).splitlines() == [
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        "ftfy",
        "git+https://github.com/openai/CLIP.git",
        "regex",
        'torch==2.3.1 ; platform_machine == "x86_64" --hash=sha256:0123',
        "tqdm",
    ]


def _project(tmp_path, requirements, files=None):
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "hub_config.json").write_text('{"project": "proj", "version": "1.0"}')
    (root / "src" / "requirements.txt").write_text(requirements)
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_an_included_file_is_read_relative_to_the_file_and_inlined(tmp_path):
    root = _project(
        tmp_path,
        "-r base.txt\n--requirement ../shared/extra.txt\nSix\n",
        {
            "src/base.txt": "joblib\n-r ../shared/deeper.txt\n",
            "shared/extra.txt": "--extra-index-url https://x.invalid/simple\n",
            "shared/deeper.txt": "tqdm>=4\n",
        },
    )
    assert len(pip_accepts(tmp_path, path=root / "src" / "requirements.txt")) == 3
    text = project_requirements(root, {"base_packages": False})
    assert text.splitlines() == [
        "--extra-index-url https://x.invalid/simple",
        "joblib",
        "six",
        "tqdm>=4",
    ]
    # The key covers what the included files say, not only the file that names them.
    before = environment_key("3.11", text)
    (root / "shared" / "deeper.txt").write_text("tqdm>=4.60\n")
    assert environment_key("3.11", project_requirements(root, {"base_packages": False})) != before


@pytest.mark.parametrize(
    "requirements, files, words",
    [
        ("-r ../../outside.txt\n", {}, "outside the project folder"),
        ("-r /etc/hostname\n", {}, "outside the project folder"),
        ("-r https://x.invalid/r.txt\n", {}, "on the network"),
        ("-r missing.txt\n", {}, "src/missing.txt does not exist"),
        ("-r a.txt\n", {"src/a.txt": "-r b.txt\n", "src/b.txt": "-r a.txt\n"}, "in a loop"),
        ("-r requirements.txt\n", {}, "in a loop"),
        ("numpy\n-e ./mypkg\n", {}, "line 2: '-e ./mypkg' is an editable install"),
        ("./mypkg\n", {"src/mypkg/setup.py": ""}, "line 1: './mypkg' is a local folder"),
        ("pkg @ file:///nonexistent/pkg-1.0.tar.gz\n", {}, "which does not exist"),
        ("-c constraints.txt\n", {}, "constraints file"),
        ("numpy\n-r a.txt\n", {"src/a.txt": "ok\nnot a requirement!\n"}, "src/a.txt line 2"),
    ],
)
def test_what_a_built_environment_cannot_hold_is_refused_with_the_file_and_line(
    tmp_path, requirements, files, words
):
    (tmp_path / "outside.txt").write_text("six\n")
    root = _project(tmp_path, requirements, files)
    with pytest.raises(UsageError) as err:
        project_requirements(root)
    assert words in str(err.value)
    assert err.value.type == "bad_requirements" and err.value.exit_code == 2


def test_every_environment_gets_numpy_and_pillow_unless_the_config_opts_out(tmp_path):
    root = _project(tmp_path, "torch\nnumpy<2  # the project's own pin wins\n")
    assert requirement_names(project_requirements(root, {})) == ["numpy", "pillow", "torch"]
    assert "numpy<2\n" in project_requirements(root, {})
    assert requirement_names(project_requirements(root, {"base_packages": False})) == [
        "numpy",
        "torch",
    ]
    empty = _project(tmp_path / "other", "")
    assert project_requirements(empty, {"base_packages": True}) == "numpy\npillow\n"
    assert project_requirements(empty, {"base_packages": False}) == ""
    # Opting out is another environment.
    assert environment_key("3.11", "numpy\npillow\n") != environment_key("3.11", "")


def test_options_uv_only_takes_on_its_command_line_are_moved_there():
    text, options = uv_requirements(
        normalise_requirements(
            "--pre\n--trusted-host a.invalid\n--trusted-host b.invalid\n--prefer-binary\n"
            "six --config-settings k=v\ngit+https://h.invalid/r.git --config-settings x=y\n"
        )
    )
    assert text == "git+https://h.invalid/r.git\nsix\n"
    assert options == [
        "--prerelease",
        "allow",
        "--allow-insecure-host",
        "a.invalid",
        "--allow-insecure-host",
        "b.invalid",
        "--config-setting",
        "x=y",
        "--config-settings-package",
        "six:k=v",
    ]


def test_a_local_archive_is_named_by_url_and_content(tmp_path):
    root = _project(
        tmp_path, "dist/tool-1.0-py3-none-any.whl\nother @ file://{}\n".format(tmp_path / "o.tgz")
    )
    (root / "src" / "dist").mkdir()
    (root / "src" / "dist" / "tool-1.0-py3-none-any.whl").write_bytes(b"one")
    (tmp_path / "o.tgz").write_bytes(b"two")
    text = project_requirements(root, {"base_packages": False})
    wheel = (root / "src" / "dist" / "tool-1.0-py3-none-any.whl").as_uri()
    assert text.splitlines() == [
        f"{wheel} --hash=sha256:{hashlib.sha256(b'one').hexdigest()}",
        f"other @ {(tmp_path / 'o.tgz').as_uri()} --hash=sha256:{hashlib.sha256(b'two').hexdigest()}",
    ]
    assert normalise_requirements(text) == text
    (tmp_path / "o.tgz").write_bytes(b"changed")
    assert project_requirements(root, {"base_packages": False}) != text


def test_a_relative_find_links_folder_is_made_absolute_as_pip_resolves_it(tmp_path):
    root = _project(tmp_path, "-f wheels\n--find-links https://x.invalid/w\n-f not-there\n")
    (root / "src" / "wheels").mkdir()
    assert project_requirements(root, {"base_packages": False}).splitlines() == [
        f"--find-links {root / 'src' / 'wheels'}",
        "--find-links https://x.invalid/w",
        "--find-links not-there",
    ]


def test_lines_that_name_this_machines_files_are_found():
    from jupyter_hub_api.project.requirements import local_paths

    text = normalise_requirements(
        "--find-links /opt/wheels\n-f https://x.invalid/w\nsix\n"
        "pkg @ file:///opt/pkg-1.tar.gz --hash=sha256:00\ngit+file:///srv/repo\n"
        "clip @ git+https://github.com/openai/CLIP.git\n"
    )
    assert local_paths(text) == [
        "--find-links /opt/wheels",
        "git+file:///srv/repo",
        "pkg @ file:///opt/pkg-1.tar.gz --hash=sha256:00",
    ]
