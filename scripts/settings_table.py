"""Print the README's settings table, generated from the fields of ``qa.config.Settings``."""

from qa.config import settings_table

if __name__ == "__main__":
    print(settings_table())
