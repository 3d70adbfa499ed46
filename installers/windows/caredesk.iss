; Inno Setup 6 script: wraps the one-folder build into CareDesk-Setup-<version>.exe.
;
; Build on Windows (see installers/README.md):
;   .venv\Scripts\python -m PyInstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller installers\caredesk.spec
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 installers\windows\caredesk.iss
; Output: dist\CareDesk-Setup-<version>.exe
;
; The clinic's data lives in the user's (or, with the "shared" option, the machine's)
; application-data folder, never in {app}: the uninstaller removes only what it installed,
; and an upgrade installs over the old program folder and keeps every clinic.

#ifndef AppVersion
  #error Pass the version: ISCC /DAppVersion=0.1.0 caredesk.iss (installers/README.md shows how to read it from the package metadata)
#endif

#define AppName "CareDesk"
#define AppExe "caredesk.exe"
#define Root ".."
#define Bundle Root + "\..\dist\caredesk"

[Setup]
; Keep this AppId for every version: it is how an upgrade finds the installed copy.
AppId={{6B0E5B1E-3C4A-4F7E-9D61-2F5C0A8E7D31}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=CareDesk
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user install without admin rights, or for all users (asks for admin): the clinic's IT chooses.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\..\dist
OutputBaseFilename=CareDesk-Setup-{#AppVersion}
SetupIconFile=caredesk.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; A running CareDesk holds its files open: ask to close it before replacing them.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
Name: "spanish"; MessagesFile: "compiler:Languages\Spanish.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"
Name: "shareddata"; Description: "Keep clinic data in one folder shared by every Windows user of this PC (C:\ProgramData\CareDesk)"; GroupDescription: "Clinic data:"; Flags: unchecked

[InstallDelete]
; Files of the previous version's bundle that this one no longer ships (never data: none is here).
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Dirs]
; The shared data folder must be writable by every user, not only by the administrator.
Name: "{commonappdata}\CareDesk\CareDesk"; Permissions: users-modify; Tasks: shareddata; Flags: uninsneveruninstall

[INI]
; Read by app/paths.py (caredesk.ini beside caredesk.exe): which data folder to use.
Filename: "{app}\caredesk.ini"; Section: "data"; Key: "scope"; String: "machine"; Tasks: shareddata
Filename: "{app}\caredesk.ini"; Section: "data"; Key: "scope"; String: "user"; Tasks: not shareddata

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the installer wrote; the clinic databases, backups and logs in
; %LOCALAPPDATA%\CareDesk or C:\ProgramData\CareDesk stay.
Type: files; Name: "{app}\caredesk.ini"
