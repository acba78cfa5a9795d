"""Flask-AppBuilder strings our users see, so that pybabel extracts them into our catalog.

FAB 5.3's own zh catalog leaves several of these untranslated (Add, Edit, Show, Delete …).
Flask-Babel loads FAB's catalog first and ours after it, and ours wins for the same msgid.
This module is never imported; it exists only for `pybabel extract`.
"""


def _(text: str) -> str:
    return text


FAB_STRINGS = [
    # navigation and login
    _("Security"), _("List Users"), _("List Roles"), _("User's Statistics"), _("Profile"),
    _("Login"), _("Logout"), _("Sign In"), _("Welcome"), _("Username"), _("Password"),
    _("Enter your login and password below"), _("Edit User Information"), _("User information changed"),
    _("Base Permissions"), _("Views/Menus"), _("Permission on Views/Menus"),
    # list, search and record views
    _("Search"), _("Add Filter"), _("Actions"), _("Record Count"), _("Page size"), _("Order by"),
    _("No records found"), _("Add a new record"), _("Edit record"), _("Show record"), _("Delete record"),
    _("Add"), _("Edit"), _("Show"), _("Delete"), _("Back"), _("Save"), _("Detail"),
    _("Are you sure you want to delete this item?"), _("User confirmation needed"),
    # search filters and validation
    _("Contains (insensitive)"), _("Start with"), _("In"), _("Not In"), _("Not a valid choice"),
    _("Database Error"),
    _("It's not a good policy to remove a user, just make it inactive"),
    _("User(s) exists in the role, cannot delete"),
]
