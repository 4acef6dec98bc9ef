"""The API's code. The platform imports this file once per worker, then calls the function
marked with @hub_handler for every POST request.

Try it in a notebook or a terminal before building:
    cd src && python -c "from main import inference_handler; print(inference_handler('hi', None))"
"""

import os

from hub import hub_handler

# The folder that holds the files of model/. The platform sets MODEL_DIR; when you run this
# file yourself it falls back to the project's model/ folder.
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.getenv("MODEL_DIR", os.path.join(HERE, "..", "model"))

# Load your model HERE, at module level: this runs once when a worker starts (the GET that
# "pings" the API waits for it), not on every request. For example:
#   import joblib
#   model = joblib.load(os.path.join(MODEL_DIR, "model.joblib"))


@hub_handler
def inference_handler(inputs, context):
    """Answer one request.

    ``inputs`` is the JSON body the client sent, already decoded: a string, a number, a list or
    a dict. ``context`` describes the call (its invocation_id, the time left before the timeout);
    it is None when you call the function yourself. Return anything JSON can hold: it becomes
    ``body.output`` of the response.
    """
    # Replace this echo with your prediction code.
    return {"echo": inputs}
