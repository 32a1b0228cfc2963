"""The Inside tab in a 1366×768 window: it gets the room to show the prediction and the embedding
map at once (the settings tabs fold to their tab bar meanwhile), and a name placed away from its
point on the map has a line to it."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt

from tests.app.apphelpers import fill_support, glyph_png


def _click_tab(bar, index: int, qtbot) -> None:
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())


def _map_in_first_screen(window) -> bool:
    """Whether the explanation on screen shows its map whole without being scrolled."""
    render = window.inside.render
    maps = [c for c in render.cards if c.kind == "points"]
    if render.explanation is None or window.inside.computing() or not maps:
        return False
    viewport, plot = render.scroll.viewport(), maps[0].body.plot
    bottom = plot.mapTo(viewport, QPoint(0, plot.height())).y()
    return render.scroll.verticalScrollBar().value() == 0 and bottom <= viewport.height() and plot.height() >= 150


def _leaders_reach_far_names(render) -> None:
    """Each name on the map that stands away from its point has a line from its point to it."""
    import pyqtgraph as pg

    [card] = [c for c in render.cards if c.kind == "points"]
    part = render.explanation.parts[render.cards.index(card)]
    plot = card.body.plot
    plot.grab()  # painted as on screen: a label's place in the scene follows the view's scale when drawn
    vb = plot.getViewBox()
    texts = {t.textItem.toPlainText(): t for t in vb.addedItems if isinstance(t, pg.TextItem) and t.isVisible()}
    lines = []
    for curve in (i for i in vb.addedItems if isinstance(i, pg.PlotCurveItem)):
        xs, ys = curve.getData()
        if xs is not None and len(xs) == 2:
            lines.append([vb.mapViewToScene(QPointF(float(xs[k]), float(ys[k]))) for k in (0, 1)])
    far = 0
    for k, name in enumerate(part.labels):
        if not name or part.kind_of[k] == "support":
            continue
        c, rect = vb.mapViewToScene(QPointF(part.x[k], part.y[k])), texts[name].sceneBoundingRect()
        near = QPointF(min(max(c.x(), rect.left()), rect.right()), min(max(c.y(), rect.top()), rect.bottom()))
        if (near - c).manhattanLength() > 40:
            far += 1
            assert any((a - c).manhattanLength() < 3 and (b - near).manhattanLength() < 3 for a, b in lines), f"no line to {name!r}"
    assert far, "alike classes put their prototypes on one spot: some names stand away from their points"


def test_the_inside_tab_shows_the_prediction_and_the_map_at_once_in_a_1366_by_768_window(make_window, qtbot):
    from app.model.library import DEFAULT_STARTERS

    window = make_window(starters=DEFAULT_STARTERS)  # a model in use without training
    window.resize(1366, 768)
    fill_support(window.project, 5, 1)  # A and D drawn alike, and B and E: a crowded map
    window.project.add_queries([glyph_png(0, 9)])
    qtbot.wait(50)  # laid out at the new size
    unfolded = window.right_split.sizes()
    tabs, top_bar = window.tabs, window.top_tabs.tabBar()

    _click_tab(top_bar, window.top_tabs.indexOf(window.inside), qtbot)
    assert tabs.height() <= tabs.tabBar().sizeHint().height() + 2, "the settings tabs fold to their tab bar"
    qtbot.waitUntil(lambda: _map_in_first_screen(window), timeout=120_000)
    render = window.inside.render
    assert render.prediction.isVisible() and render.prediction.mapTo(render.scroll.viewport(), QPoint(0, 0)).y() >= 0
    _leaders_reach_far_names(render)

    # A settings tab clicked: the tabs open where they were, and that tab shows.
    _click_tab(tabs.tabBar(), tabs.indexOf(window.models_tab), qtbot)
    assert window.right_split.sizes() == unfolded and tabs.currentWidget() is window.models_tab
    # Back to the training curves after Inside folded them again: as they were too.
    _click_tab(top_bar, window.top_tabs.indexOf(window.training), qtbot)
    _click_tab(top_bar, window.top_tabs.indexOf(window.inside), qtbot)
    assert window.right_split.sizes() != unfolded
    _click_tab(top_bar, window.top_tabs.indexOf(window.training), qtbot)
    assert window.right_split.sizes() == unfolded and tabs.height() > 100
