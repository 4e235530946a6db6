"""The browser UI: the SolaraViz page (``model.ui.app``) and the server that runs it (``model.ui.serve``)."""
