"""The assets page (Flask): the table with a search box, the hierarchy graph, and a JSON API."""
from __future__ import annotations

from typing import Any

from .graph import hierarchy_svg

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>cloudfiles assets</title>
<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ccc;padding:2px 6px}.error{color:#c00}input[name=sql]{width:60%}</style></head><body>
<h1>cloudfiles assets</h1>
<form method="get" action="/"><input name="sql" value="{{ sql }}">
<select name="group"><option {% if group=='assets' %}selected{% endif %}>assets</option>
<option {% if group=='files' %}selected{% endif %}>files</option></select>
<button id="search" type="submit">Search</button></form>
{% if error %}<p class="error" id="query-error">{{ error }}</p>{% endif %}
<table id="results"><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for c in columns %}<td class="{{ 'error' if c.endswith('_error') and r[c] else '' }}">{{ '' if r[c] is none else r[c] }}</td>{% endfor %}</tr>{% endfor %}
</table><h2>Hierarchy</h2><div id="graph">{{ graph|safe }}</div></body></html>"""


def create_app(config: Any = None, executor: Any = None):
    """A Flask app over ``Database(config)``; the database is updated on first use."""
    from flask import Flask, jsonify, render_template_string, request

    from cloudfiles.exceptions import CloudFilesError

    from .database import Database

    app = Flask("cloudfiles.assets")
    state: dict = {}

    def db(fresh: bool = False) -> Database:
        if fresh or "db" not in state:
            state["db"] = Database(config, executor=executor).update()
        return state["db"]

    @app.get("/")
    def index():
        group = request.args.get("group", "assets")
        group = group if group in ("files", "assets") else "assets"
        sql = request.args.get("sql") or f"SELECT * FROM {group}"
        error, rows = None, []
        try:
            rows = db().search(sql)
        except (CloudFilesError, ValueError) as err:
            error = str(err)
        columns = list(rows[0]) if rows else []
        return render_template_string(PAGE, sql=sql, group=group, rows=rows, columns=columns, error=error,
                                      graph=hierarchy_svg(db().assets))

    @app.errorhandler(CloudFilesError)
    def fail(err):
        return jsonify({"error": " ".join(str(err).split())}), 400

    @app.post("/api/update")
    def api_update():
        d = db(fresh=True)
        return jsonify({"files": d.files, "assets": d.assets})

    @app.post("/api/create")
    def api_create():
        return jsonify(db(fresh=True).create())

    @app.post("/api/export")
    def api_export():
        return jsonify(db().export())

    @app.post("/api/delete")
    def api_delete():
        return jsonify(db().delete())

    @app.post("/api/search")
    def api_search():
        body = request.get_json(silent=True) or {}
        try:
            return jsonify(db().search(body.get("sql", "")))
        except ValueError as err:
            return jsonify({"error": str(err)}), 400

    @app.post("/api/workflow")
    def api_workflow():
        body = request.get_json(silent=True) or {}
        steps = body.get("workflow")
        if steps is not None and not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
            return jsonify({"error": "workflow must be a list of step names"}), 400
        try:
            return jsonify(db(fresh=True).workflow(steps))
        except ValueError as err:
            return jsonify({"error": str(err)}), 400

    return app
