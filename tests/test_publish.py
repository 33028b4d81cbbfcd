"""make publish: the built book lands on a gh-pages branch of a (local, bare) remote."""

import subprocess

import pytest

pytest.importorskip("ghp_import")

from genre_utils.publish import PublishError, main, publish  # noqa: E402


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def clone(tmp_path):
    bare = tmp_path / "remote.git"
    git("init", "--bare", "-q", str(bare))
    work = tmp_path / "work"
    git("clone", "-q", str(bare), str(work))
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "start", cwd=work)
    html = work / "_build" / "html"
    (html / "_static").mkdir(parents=True)
    (html / "index.html").write_text("<html>book</html>")
    (html / "_static" / "style.css").write_text("body{}")
    return bare, work, html


def test_publish_pushes_the_html_tree_to_gh_pages(clone, monkeypatch):
    bare, work, html = clone
    monkeypatch.setenv("GIT_AUTHOR_NAME", "t")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "t@e")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "t")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "t@e")
    sha = publish(html, repo=work)
    assert git("--git-dir", str(bare), "rev-parse", "gh-pages") == sha
    files = set(git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "gh-pages").split())
    assert files == {".nojekyll", "index.html", "_static/style.css"}
    # a second build replaces the tree and keeps the branch's history
    (html / "index.html").write_text("<html>book 2</html>")
    (html / "_static" / "style.css").unlink()
    publish(html, repo=work)
    assert git("--git-dir", str(bare), "show", "gh-pages:index.html") == "<html>book 2</html>"
    assert "_static/style.css" not in git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "gh-pages")
    assert git("--git-dir", str(bare), "rev-list", "--count", "gh-pages") == "2"
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=work) != "gh-pages"  # the work tree was not touched


def test_publish_refuses_without_a_book_or_remote(clone, tmp_path, capsys, monkeypatch):
    bare, work, html = clone
    with pytest.raises(PublishError, match="no built book"):
        publish(tmp_path / "nothing", repo=work)
    with pytest.raises(PublishError, match="no remote named 'upstream'"):
        publish(html, repo=work, remote="upstream")
    monkeypatch.chdir(work)
    assert main(["--build-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `make book` first" in err and "Traceback" not in err
