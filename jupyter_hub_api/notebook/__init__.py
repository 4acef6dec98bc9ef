"""Deploy from a notebook cell: ``jupyter_hub_api.deploy(model, predict, name=...)``.

::

    import jupyter_hub_api as hub

    def predict(model, inputs):
        return model.predict(inputs)

    api = hub.deploy(model, predict, name="iris")   # streams the build log into the cell
    api.predict([[5.1, 3.5, 1.4, 0.2]])              # calls the live API with your key

``deploy.py`` runs it, ``model_files.py`` saves the model object, ``handler_source.py``
writes ``main.py`` from the function.
"""

from .deploy import DeployError, Deployment, deploy

__all__ = ["DeployError", "Deployment", "deploy"]
