"""The run history page, an Airflow 3 plugin: a FastAPI app on the api-server (app.py) and a menu entry in
the Airflow UI (plugin.py, registered by the entry point `airflow.plugins`). history.py and render.py are
pure: the page's logic and HTML, without Airflow."""
