"""What a person receives: the export's pages, COCO annotations, manifest and zip, and the erasure
certificate of a delete. Everything here is built from what the units returned (their files and the
records in them), streamed part by part, so memory stays flat however many images a request covers."""
