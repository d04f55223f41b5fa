"""The file picker: one Enter loads a file or a folder, Backspace goes to the parent, a typed
path is followed, and the root always has a label (the whole path)."""

from __future__ import annotations

from pathlib import Path

from app_helpers import make_app, until
from rlm_tui.screens.file_picker import FilePicker, SizedTree, shown_path


def make_tree(root: Path) -> None:
    (root / "data" / "inner").mkdir(parents=True)
    (root / "data" / "a.txt").write_text("alpha\n")
    (root / "data" / "inner" / "b.txt").write_text("beta\n")
    (root / "notes.txt").write_text("some notes\n")


async def open_picker(pilot):
    await pilot.press("ctrl+o")
    await until(pilot, lambda: isinstance(pilot.app.screen, FilePicker))
    tree = pilot.app.screen.query_one(SizedTree)
    await until(pilot, lambda: len(tree.root.children) > 0 and tree.cursor_line == 1)
    return tree


async def test_one_enter_on_the_only_match_loads_it(ollama, tmp_path, monkeypatch):
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_picker(pilot)
        await pilot.press(*"notes", "enter")
        await until(pilot, lambda: app.session.context_info is not None)
        assert app.session.context_path.name == "notes.txt"


async def test_enter_on_a_folder_loads_the_folder(ollama, tmp_path, monkeypatch):
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        tree = await open_picker(pilot)
        tree.focus()
        assert tree.cursor_node.data.path.name == "data"  # folders first, cursor on it
        await pilot.press("enter")
        await until(pilot, lambda: app.session.context_info is not None)
        assert app.session.context_path.name == "data"
        assert app.session.context_info.kind == "directory"
        assert app.session.context_info.items == 2


async def test_backspace_goes_up_and_a_typed_path_is_followed(ollama, tmp_path, monkeypatch):
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path / "data")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        tree = await open_picker(pilot)
        await pilot.press("backspace")  # the box is empty: up a directory
        await until(pilot, lambda: Path(tree.path) == tmp_path)
        await pilot.press(*"data/inner", "enter")  # a directory: the tree moves there
        await until(pilot, lambda: Path(tree.path) == tmp_path / "data" / "inner")
        await pilot.press(*"../a.txt", "enter")  # a file: loaded
        await until(pilot, lambda: app.session.context_info is not None)
        assert app.session.context_path == tmp_path / "data" / "a.txt"


async def test_a_missing_typed_path_is_said_and_the_picker_stays(ollama, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, FilePicker))
        await pilot.press(*"nope/x.txt", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FilePicker)
        assert "no such file or directory" in str(app.screen.query_one("#picker-path").render())


async def test_the_root_label_is_the_whole_path_after_a_relative_context(ollama, tmp_path,
                                                                       monkeypatch):
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    app = make_app(context=Path("notes.txt"))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.session.context_info is not None)
        tree = await open_picker(pilot)
        label = tree.render_label(tree.root, tree.rich_style, tree.rich_style).plain
        assert label.strip("▶▼ ") == shown_path(tmp_path) and shown_path(tmp_path)
