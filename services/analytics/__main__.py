from analytics.app import create_app
from analytics.settings import Settings
from cortex_kit.runtime import serve

settings = Settings()
serve(create_app(settings), settings)
