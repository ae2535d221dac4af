"""The bundled demo site that example scripts and browser tests run against."""
