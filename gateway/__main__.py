from cortex_kit.runtime import serve
from gateway.app import create_app
from gateway.settings import Settings

settings = Settings()
serve(create_app(settings), settings)
