"""Well-behaved Open Energy client on ib1-openenergy-support's FAPISession (the package's documented code, docs/providers/openenergy.md#client-libraries):
see common.Reader."""
import common

if __name__ == "__main__":
    common.main(common.Reader)
