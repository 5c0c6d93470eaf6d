from cortex_kit.runtime import serve
from rollout_orchestrator.app import create_app
from rollout_orchestrator.settings import Settings

settings = Settings()
serve(create_app(settings), settings)
