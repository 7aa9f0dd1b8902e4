"""A minimal Django site sending through smtp_backend: see settings.py for its one mail block.

python -m django send_newsletter --settings=example_project.django_site.settings
python -m django runserver --settings=example_project.django_site.settings
"""
