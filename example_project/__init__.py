"""Two small apps that send mail through smtp_backend, and the demo that runs them.

- ``django_site``: a Django site (sign-up view, ``send_newsletter`` management command)
- ``flask_app``: a Flask app (sign-up route, ``flask newsletter`` command)
- ``demo``: starts the dev server and runs both newsletters against it
  (``python -m example_project``, or ``bash scripts/run-demo``)
"""
