# expect: gate
# a pickle that calls os.system
# message: import of 'pickle'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import pickle

pickle.loads(b"cos\nsystem\n(S'id'\ntR.")
