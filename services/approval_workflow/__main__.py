from approval_workflow.app import create_app
from approval_workflow.settings import Settings
from cortex_kit.runtime import serve

settings = Settings()
serve(create_app(settings), settings)
