import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Import the URLconf (and the views and API schemas behind it) while the worker starts,
# rather than during the first request it serves.
import_module(settings.ROOT_URLCONF)
# Everything loaded so far lives as long as the worker: keep it out of the garbage
# collector's passes, which otherwise walk all of it again and again under load.
gc.freeze()
