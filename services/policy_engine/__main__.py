from cortex_kit.runtime import serve
from policy_engine.app import create_app
from policy_engine.settings import Settings

settings = Settings()
serve(create_app(settings), settings)
