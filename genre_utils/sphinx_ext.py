"""Two fixes to the HTML that Jupyter Book 1.x produces, loaded as a Sphinx extension by ``_config.yml``.

1. ``sphinx_thebe`` adds its configuration script (``const THEBE_JS_URL = ...``) while the builder is already
   initialised, and current Sphinx then writes it into every page twice; the second ``const`` is a
   JavaScript ``SyntaxError``. The book does not use Thebe (no launch buttons), so its script is not added.
2. pydata-sphinx-theme logs a console error when no colour mode is configured; the book sets ``light``.
"""


def _drop_thebe_script(app, config) -> None:
    for listener in list(app.events.listeners.get("env-before-read-docs", [])):
        if getattr(listener.handler, "__module__", "") == "sphinx_thebe" and \
                listener.handler.__name__ == "init_thebe_core":
            app.disconnect(listener.id)


def _default_mode(app, config) -> None:
    config.html_context.setdefault("default_mode", "light")


def setup(app):
    """Register the fixes; they run once the configuration (and every extension) is loaded."""
    app.connect("config-inited", _drop_thebe_script, priority=900)
    app.connect("config-inited", _default_mode, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
