"""rnnlab.tasks: models for applications (recurrent body + head + loss + decoding)."""
