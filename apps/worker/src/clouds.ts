/** Endpoints of the Microsoft 365 clouds. Sources: Microsoft's national cloud endpoint tables. */
export interface CloudEndpoints {
  authorityHost: string;
  smtpHost: string;
  smtpScope: string;
  graphHost: string;
}

export const CLOUDS = {
  global: {
    authorityHost: 'https://login.microsoftonline.com',
    smtpHost: 'smtp.office365.com',
    smtpScope: 'https://outlook.office365.com/.default',
    graphHost: 'https://graph.microsoft.com',
  },
  'usgov-gcchigh': {
    authorityHost: 'https://login.microsoftonline.us',
    smtpHost: 'smtp.office365.us',
    smtpScope: 'https://outlook.office365.us/.default',
    graphHost: 'https://graph.microsoft.us',
  },
  'usgov-dod': {
    authorityHost: 'https://login.microsoftonline.us',
    smtpHost: 'smtp.office365.us',
    smtpScope: 'https://outlook.office365.us/.default',
    graphHost: 'https://dod-graph.microsoft.us',
  },
  china: {
    authorityHost: 'https://login.chinacloudapi.cn',
    smtpHost: 'smtp.partner.outlook.cn',
    smtpScope: 'https://partner.outlook.cn/.default',
    graphHost: 'https://microsoftgraph.chinacloudapi.cn',
  },
} as const satisfies Record<string, CloudEndpoints>;

export type CloudName = keyof typeof CLOUDS;
