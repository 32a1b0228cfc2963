"""The app's tests: the model and the engine glue on their own, the views and the window driven
as a person drives them. `tests.app.apphelpers` holds what several of them share."""
