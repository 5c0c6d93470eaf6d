from cortex_kit.runtime import serve
from metrics_collector.app import create_app
from metrics_collector.settings import Settings

settings = Settings()
serve(create_app(settings), settings)
